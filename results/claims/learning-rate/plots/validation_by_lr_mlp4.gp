# Re-plot by hand: gnuplot validation_by_lr_mlp4.gp (writes validation_by_lr_mlp4.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('validation_by_lr_mlp4.gp')]
if (!exists('out')) out = here . 'validation_by_lr_mlp4.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'mlp depth 4: validation accuracy after training, by learning rate'
set xlabel 'learning rate (SGD)'
set ylabel 'validation accuracy'
set key bottom left
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
plot here . 'validation_by_lr_mlp4.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'bn-split', \
     '-' using 1:2 with points pt 2 ps 2 lw 2 lc rgb 'red' title 'a seed diverged here (drawn at chance, 0.1)'
1 0.1
3 0.1
10 0.1
30 0.1
10 0.1
30 0.1
e
