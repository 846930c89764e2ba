set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/init-scale/plots/validation_by_scale_sigmoid.png.tmp'
set title '8-layer MLP, sigmoid: validation accuracy by initial weight scale'
set xlabel 'weight scale (std of the initial weights)'
set ylabel 'validation accuracy'
set key center left
set grid
set logscale x
set format x '%g'
plot 'results/claims/init-scale/plots/validation_by_scale_sigmoid.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
