set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/convergence/plots/validation_mlp.png.tmp'
set title 'mlp: validation accuracy, each arm at its best LR'
set xlabel 'step'
set ylabel 'validation accuracy'
set key bottom right
set grid
plot 'results/claims/convergence/plots/validation_mlp.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none (lr 0.95)', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn (lr 3)'
